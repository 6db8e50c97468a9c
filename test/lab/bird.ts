/**
 * BIRD 2 configs for the lab. Every PoP is AS 65000 (one anycast operator)
 * and announces the anycast /24 to each ISP it has a link to, prepending when
 * the topology says so. Each ISP takes the anycast route from every PoP it
 * is linked to, ranks them by local preference (the policy), and announces
 * its customers (the vantage points' links) back, so answers find their way
 * home. Short timers make a withdrawn PoP visible within seconds.
 */
import type { LabNetwork } from './network.ts'

export const anycastAs = 65000

function anycastPrefix(network: LabNetwork): string {
  return `${network.topology.anycast.split('.').slice(0, 3).join('.')}.0/24`
}

const timers = 'hold time 6; keepalive time 2; connect retry time 1; error wait time 1, 5;'

export function birdPopConfig(network: LabNetwork, code: string, id: number): string {
  const prefix = anycastPrefix(network)
  const sessions = network.popLinks
    .filter((link) => link.pop === code)
    .map((link) => {
      const asn = network.topology.isps.find((isp) => isp.name === link.isp)?.asn
      const prepend = Array.from({ length: link.prepend }, () => `bgp_path.prepend(${anycastAs});`).join(' ')
      return `
protocol bgp isp_${link.index} {
  local ${link.popAddress} as ${anycastAs};
  neighbor ${link.ispAddress} as ${asn};
  ${timers}
  ipv4 {
    import all;
    export filter { if net = ${prefix} then { ${prepend} accept; } reject; };
  };
}`
    })
  return `# PoP ${code}: announces ${prefix}
router id 198.19.254.${id};
protocol device { scan time 5; }
protocol static anycast { ipv4; route ${prefix} blackhole; }
protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; learn off; }
${sessions.join('\n')}
`
}

export function birdIspConfig(network: LabNetwork, name: string, id: number): string {
  const isp = network.topology.isps.find((candidate) => candidate.name === name)
  if (!isp) throw new Error(`no ISP ${name}`)
  const sessions = network.popLinks
    .filter((link) => link.isp === name)
    .map(
      (link) => `
protocol bgp pop_${link.pop}_${link.index} {
  local ${link.ispAddress} as ${isp.asn};
  neighbor ${link.popAddress} as ${anycastAs};
  ${timers}
  ipv4 {
    import filter { bgp_local_pref = ${link.localPref}; accept; };
    export where proto = "customers";
  };
}`,
    )
  return `# ISP ${name} (AS${isp.asn})
router id 198.19.253.${id};
protocol device { scan time 5; }
protocol direct customers { ipv4; interface "cv*"; }
protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; learn off; }
${sessions.join('\n')}
`
}
