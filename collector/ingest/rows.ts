/**
 * One request's records on their way to the store. They are encoded when the
 * request arrives, so that the store's write path, which runs one insert at
 * a time, only concatenates text; and only the text and the ids wait in the
 * queue, not the parsed records, which would outlive the young generation and
 * make every garbage collection copy them.
 */
import type { Measurement } from '../../probe/record.ts'
import type { ProbeMetadata } from '../store/probes.ts'
import { toTsv } from './tsv.ts'

export interface RowBatch {
  /** The records with their probe's metadata as TabSeparated rows, one line each, in order. */
  tsv: string
  /** The records' ids, in the same order. */
  ids: string[]
  probe: string
  targets: string[]
  /** Earliest and latest `ts`: with probe and targets, what narrows the stored-id lookup. */
  from: string
  to: string
  /**
   * The sender says these records were never sent before (its first attempt),
   * so none can be stored already and the stored-id lookup is skipped.
   */
  firstAttempt: boolean
}

/** One probe's records (a request holds one probe's). */
export function rowBatch(records: readonly Measurement[], metadata: ProbeMetadata, options: { firstAttempt?: boolean } = {}): RowBatch {
  const targets = new Set<string>()
  let from = records[0]?.ts ?? ''
  let to = from
  for (const record of records) {
    targets.add(record.target)
    if (record.ts < from) from = record.ts
    if (record.ts > to) to = record.ts
  }
  return {
    tsv: toTsv(records, metadata),
    ids: records.map((record) => record.id),
    probe: records[0]?.probe ?? '',
    targets: [...targets],
    from,
    to,
    firstAttempt: options.firstAttempt ?? false,
  }
}

/** The batch without the rows at these positions (TabSeparated escapes newlines, so a row is a line). */
export function withoutRows(batch: RowBatch, dropped: ReadonlySet<number>): RowBatch {
  const lines = batch.tsv.split('\n')
  return {
    ...batch,
    tsv: lines.filter((line, i) => i < batch.ids.length && !dropped.has(i)).map((line) => `${line}\n`).join(''),
    ids: batch.ids.filter((_, i) => !dropped.has(i)),
  }
}
