/** Reads a process's CPU time and resident memory from /proc (Linux), as `ps` and `top` do. */
import { readFileSync } from 'node:fs'
import os from 'node:os'

/** Kernel clock ticks per second (USER_HZ): 100 on every Linux ABI Node supports. */
const ticksPerSecond = 100

export interface ProcSample {
  at: number
  cpuSeconds: number
  userSeconds: number
  systemSeconds: number
  rssBytes: number
  /** The process's own pages (heap, stacks, malloc): what it costs beyond the shared binary. */
  anonBytes: number
  /** File-backed pages, mostly the node binary's code, shared with every other Node process. */
  fileBytes: number
}

export function sampleProcess(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kilobytes = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0)
  return {
    at: performance.now(),
    cpuSeconds: (utime + stime) / ticksPerSecond,
    userSeconds: utime / ticksPerSecond,
    systemSeconds: stime / ticksPerSecond,
    rssBytes: kilobytes('VmRSS') * 1024,
    anonBytes: kilobytes('RssAnon') * 1024,
    fileBytes: kilobytes('RssFile') * 1024,
  }
}

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.type()} ${os.release()}`
}
