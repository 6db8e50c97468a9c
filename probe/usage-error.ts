/** A mistake in how the command was called: reported in one line, exit status 1. */
export class UsageError extends Error {
  readonly code = 'USAGE'
}

/**
 * Errors with a stable upper-case `code` (ours: USAGE, CONFIG, STORE_OPEN,
 * SPOOL_LOCKED…; Node's: ECONNREFUSED, EACCES…) are the user's to fix: one
 * line, exit 1. Anything else, ClickHouse's numeric codes included, is a bug
 * and keeps its stack.
 */
export function isUserError(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown } | null)?.code
  return error instanceof Error && typeof code === 'string' && /^[A-Z][A-Z_]+$/.test(code)
}

/** Runs a commander program; a user's mistake ends in `<name>: error: …` and exit 1, a bug keeps its stack. */
export async function runProgram(program: { parseAsync(argv: string[]): Promise<unknown> }, name: string): Promise<void> {
  try {
    await program.parseAsync(process.argv)
  } catch (error) {
    if (!isUserError(error)) throw error
    process.stderr.write(`${name}: error: ${error.message}\n`)
    process.exitCode = 1
  }
}
