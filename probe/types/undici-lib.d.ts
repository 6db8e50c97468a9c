// Types for undici's internal entry points used by probe/undici-lite.ts.
declare module 'undici/lib/dispatcher/client.js' {
  const Client: unknown
  export default Client
}
declare module 'undici/lib/dispatcher/pool.js' {
  const Pool: unknown
  export default Pool
}
