/** Runs the project's CLIs as a user would: a child process, from the source. */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

/** Every long-running child a test started, so a failed assertion cannot leave one behind (and hang the run). */
const children = new Set<import('node:child_process').ChildProcess>()

export function killChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  children.clear()
}

function track(child: import('node:child_process').ChildProcess): void {
  children.add(child)
  child.once('exit', () => children.delete(child))
}

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

export function runCli(bin: 'probe' | 'collector', args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `${bin}/cli.ts`, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

export interface ServingProcess {
  port: number
  url: string
  child: import('node:child_process').ChildProcess
  stderr(): string
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts `collector serve --port 0 …` and waits for the port it prints. */
export function startServe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServingProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'collector/cli.ts', 'serve', '--port', '0', '--host', '127.0.0.1', ...args], {
      cwd: repoRoot,
      env: { ...process.env, CATCHMENT_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    track(child)
    let stdout = ''
    let stderr = ''
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`collector serve did not start: ${stderr}`))
    }, 60_000)
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const match = /listening on (\d+)/.exec(stdout)
      if (!match) return
      clearTimeout(timer)
      const port = Number(match[1])
      resolve({
        port,
        url: `http://127.0.0.1:${port}`,
        child,
        stderr: () => stderr,
        stop(signal = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal)
          return exited
        },
      })
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`collector serve exited with ${code}: ${stderr}`))
    })
  })
}

export interface AgentProcess {
  child: import('node:child_process').ChildProcess
  logs(): string
  /** Sends a signal and resolves with the exit code (null when killed by the signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts `probe agent --config FILE --spool DIR` with info logs, so tests can read what it said. */
export function startAgentProcess(configFile: string, spoolDir: string): AgentProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'probe/cli.ts', 'agent', '--config', configFile, '--spool', spoolDir, '--log-level', 'info'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  track(child)
  let logs = ''
  child.stdout.on('data', (chunk: Buffer) => (logs += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (logs += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    child,
    logs: () => logs,
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

/** A port that was free a moment ago, for a server that must come back on the same address. */
export async function freePort(): Promise<number> {
  const net = await import('node:net')
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as import('node:net').AddressInfo
      server.close(() => resolve(port))
    })
  })
}

export function waitFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls until `check` holds or `timeoutMs` passes; whether it held. For what a loaded CI machine makes slow, not for timing. */
export async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() >= deadline) return false
    await waitFor(100)
  }
  return true
}
