// Types for undici's internal entry points used by probe/undici-lite.ts.
declare module 'undici/lib/dispatcher/pool.js' {
  const Pool: unknown
  export default Pool
}
