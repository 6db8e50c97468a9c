/** Starts the stand-in edge (edge.ts) in its own process, so its CPU is not charged to what a bench measures. */
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { repoRoot } from '../../helpers/cli.ts'

export interface EdgeProcess {
  child: ChildProcess
  port: number
}

/** Over HTTPS when given the key's and the certificate's files; resolves once the edge has printed its port. */
export function startEdge(tlsFiles?: { key: string; cert: string }): Promise<EdgeProcess> {
  const args = tlsFiles ? [tlsFiles.key, tlsFiles.cert] : []
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test/bench/lib/edge.ts'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('\n')) resolve({ child, port: Number(out.split('\n')[0]) })
    })
    child.once('exit', (code) => reject(new Error(`the edge exited with ${code}`)))
  })
}
