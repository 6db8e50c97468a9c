/**
 * What every fold's INSERT … SELECT runs with, the minute fold's and the
 * hour fold's alike. A fold a crash cut short is run again with the same
 * deduplication token, and these settings are what make the second run
 * recognised, in the table written and in those its views feed.
 */
import type { ClickHouseSettings } from '@clickhouse/client'

export function foldInsertSettings(token: string): ClickHouseSettings {
  return {
    insert_deduplication_token: token,
    deduplicate_blocks_in_dependent_materialized_views: 1,
    // One block per partition, however the rows were read: a fold run again then makes the same blocks, with the same tokens.
    min_insert_block_size_rows: '100000000',
    min_insert_block_size_bytes: '0',
    max_insert_block_size: '100000000',
    // A fold's rows are one per key already.
    optimize_on_insert: 0,
  }
}
