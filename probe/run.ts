/**
 * Runs `count` samples against each target, spaced by `interval`, with at most
 * `concurrency` in flight overall. Records are handed out as they complete so
 * a caller can stream them; the full list comes back at the end.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import pLimit from 'p-limit'
import { measureHttp, type HttpSampleOptions } from './measure/http.ts'
import type { Measurement } from './record.ts'

export type SampleSpec = Omit<HttpSampleOptions, 'url'> & { url: URL }

export interface RunPlan {
  targets: readonly SampleSpec[]
  count: number
  intervalMs: number
  concurrency: number
}

export async function runSamples(plan: RunPlan, onRecord: (record: Measurement) => void = () => {}): Promise<Measurement[]> {
  const limit = pLimit(plan.concurrency)
  const records: Measurement[] = []
  const startedAt = Date.now()

  const perTarget = plan.targets.map(async (target) => {
    const samples: Promise<void>[] = []
    for (let i = 0; i < plan.count; i++) {
      const due = startedAt + i * plan.intervalMs
      const wait = due - Date.now()
      if (wait > 0) await sleep(wait)
      samples.push(
        limit(async () => {
          const record = await measureHttp(target)
          records.push(record)
          onRecord(record)
        }),
      )
    }
    await Promise.all(samples)
  })
  await Promise.all(perTarget)
  return records
}
