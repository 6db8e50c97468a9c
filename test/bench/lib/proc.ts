/** Reads a process's CPU time and resident memory from /proc (Linux), as `ps` and `top` do. */
import { readdirSync, readFileSync } from 'node:fs'
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

/** User and system ticks from a /proc `stat` line. */
function statTicks(stat: string): { utime: number; stime: number } {
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { utime: Number(fields[11]), stime: Number(fields[12]) }
}

export function sampleProcess(pid: number): ProcSample {
  const { utime, stime } = statTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'))
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

export interface ThreadCpu {
  /** The thread's id; the main thread's is the process's. */
  tid: number
  /** Its name: `node` for Node's own threads (the main one, V8's helpers, libuv's pool), others for chDB's pools. */
  name: string
  cpuSeconds: number
}

/** CPU seconds of each live thread of a process, from `/proc/<pid>/task`. */
export function threadCpuSeconds(pid: number): ThreadCpu[] {
  const threads: ThreadCpu[] = []
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${task}/comm`, 'utf8').trim()
      const { utime, stime } = statTicks(readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8'))
      threads.push({ tid: Number(task), name, cpuSeconds: (utime + stime) / ticksPerSecond })
    } catch {
      // The thread ended while the list was read.
    }
  }
  return threads
}

/**
 * CPU seconds the threads `which` picks used between two `threadCpuSeconds`
 * readings. A thread that ended in between is not counted (its time is
 * still in the process's total).
 */
export function threadCpuBetween(before: ThreadCpu[], after: ThreadCpu[], which: (thread: ThreadCpu) => boolean): number {
  const earlier = new Map(before.map((thread) => [thread.tid, thread.cpuSeconds]))
  return after.filter(which).reduce((sum, thread) => sum + thread.cpuSeconds - (earlier.get(thread.tid) ?? 0), 0)
}

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.type()} ${os.release()}`
}
