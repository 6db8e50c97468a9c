/** Response headers as the HTTP client hands them over: lower-case names, repeated ones as arrays or joined. */
export type ResponseHeaders = Record<string, string | string[] | undefined>

/** One header's value, repeated fields joined the way HTTP folds them (RFC 9110 §5.3). */
export function headerValue(headers: ResponseHeaders, name: string): string | null {
  const value = headers[name]
  if (value === undefined) return null
  return Array.isArray(value) ? value.join(', ') : value
}
