/** A wire record plus its probe's metadata: the row as stored, so analysis needs no join. */
import type { Measurement } from '../../probe/record.ts'
import type { ProbeMetadata } from '../store/probes.ts'

export type MeasurementRow = Measurement & Omit<ProbeMetadata, 'tags'>

export function toRow(record: Measurement, metadata: ProbeMetadata): MeasurementRow {
  return {
    ...record,
    asn: metadata.asn,
    isp: metadata.isp,
    country: metadata.country,
    city: metadata.city,
    lat: metadata.lat,
    lon: metadata.lon,
  }
}
