/** ClickHouse's DateTime64(3) text form in UTC (`2026-01-01 00:00:00.000`), which it reads back without settings. */
export function clickhouseTime(date: Date = new Date()): string {
  return date.toISOString().replace('T', ' ').replace('Z', '')
}
