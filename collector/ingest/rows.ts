/**
 * One request's records on their way to the store. They are encoded when the
 * request arrives, so that the store's write path, which runs one insert at
 * a time, only concatenates text.
 */
import type { Measurement } from '../../probe/record.ts'
import type { ProbeMetadata } from '../store/probes.ts'
import { toTsv } from './tsv.ts'

export interface RowBatch {
  records: readonly Measurement[]
  metadata: ProbeMetadata
  /** `records` with `metadata` as TabSeparated rows. */
  tsv: string
  /**
   * The sender says these records were never sent before (its first attempt),
   * so none can be stored already and the stored-id lookup is skipped.
   */
  firstAttempt: boolean
}

export function rowBatch(records: readonly Measurement[], metadata: ProbeMetadata, options: { firstAttempt?: boolean } = {}): RowBatch {
  return { records, metadata, tsv: toTsv(records, metadata), firstAttempt: options.firstAttempt ?? false }
}
