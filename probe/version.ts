/** Kept in step with package.json by a test; a constant avoids reading files at start-up. */
export const version = '0.1.0'

export const userAgent = `catchment-probe/${version}`
