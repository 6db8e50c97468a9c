/** `collector migrate` and `collector schema` */
import { Command } from 'commander'
import { positiveInt } from '../../probe/options.ts'
import { openStore } from '../store/client.ts'
import { migrate, schemaStatements } from '../store/migrations.ts'
import { defaultRetentionDays } from '../store/schema.ts'
import { defaultDatabase } from '../store/url.ts'
import { resolveConfig, type StoreOptions } from './common.ts'

export function migrateCommand(): Command {
  return new Command('migrate')
    .description('bring the store’s schema up to date (serve does this at start too)')
    .option('--store <url>', 'chdb://DIR or http(s)://user:pass@host:8123/db (env CATCHMENT_STORE)')
    .option('--config <file>', 'collector config file')
    .action(async (options: StoreOptions) => {
      const config = resolveConfig(options)
      const store = await openStore(config.store, { roles: ['registry'] })
      try {
        const report = await migrate(store, { retentionDays: config.retention_days })
        for (const step of report.applied) process.stdout.write(`applied ${step.version}: ${step.name}\n`)
        process.stdout.write(`schema version ${report.current}\n`)
      } finally {
        await store.close()
      }
    })
}

export function schemaCommand(): Command {
  return new Command('schema')
    .description('print the DDL; with --cluster, the ON CLUSTER overlay (ReplicatedMergeTree + Distributed)')
    .option('--cluster <name>', 'cluster name from the servers’ remote_servers config')
    .option('--database <name>', 'database name', defaultDatabase)
    .option('--retention-days <days>', 'how long raw measurements are kept', positiveInt, defaultRetentionDays)
    .action((options: { cluster?: string; database: string; retentionDays: number }) => {
      const statements = schemaStatements({ database: options.database, cluster: options.cluster, retentionDays: options.retentionDays })
      process.stdout.write(`${statements.join(';\n\n')};\n`)
    })
}
