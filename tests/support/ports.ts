/**
 * Checks that the ETH ports are free (nothing left listening) by binding them.
 */

/** Returns the ports among `tcpPorts` and `udpPorts` that cannot be bound right now. */
export async function busyPorts(tcpPorts: readonly number[], udpPorts: readonly number[]): Promise<string[]> {
  const busy: string[] = [];
  for (const port of tcpPorts) {
    try {
      const listener = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
      listener.stop(true);
    } catch {
      busy.push(`tcp/${port}`);
    }
  }
  for (const port of udpPorts) {
    try {
      const socket = await Bun.udpSocket({ hostname: "127.0.0.1", port });
      socket.close();
    } catch {
      busy.push(`udp/${port}`);
    }
  }
  return busy;
}

/** The ports of the ETH interface. */
export const ETH_TCP_PORTS = [5001, 5002, 5003] as const;
export const ETH_UDP_PORTS = [10053] as const;
