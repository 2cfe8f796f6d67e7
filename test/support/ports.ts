/**
 * A $PORT for a test stack, which `npm start` binds a second or two after it is chosen. A port the OS
 * hands out for `listen(0)` is from the ephemeral range, which every outgoing connection also takes its
 * local port from: on a busy machine one had taken it by then (EADDRINUSE, start-up failed). So the ports
 * come from below that range, where the OS never hands one out by itself; each is checked free first.
 */
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";

const LOWEST = 20_000;
const TRIES = 50;

/** Linux's ephemeral range (ip_local_port_range); undefined elsewhere. */
export async function ephemeralRange(file = "/proc/sys/net/ipv4/ip_local_port_range"): Promise<[number, number] | undefined> {
  const text = await readFile(file, "utf8").catch(() => undefined);
  const [low, high] = (text ?? "").trim().split(/\s+/).map(Number);
  return Number.isInteger(low) && Number.isInteger(high) ? [low!, high!] : undefined;
}

/** The port bound on 127.0.0.1 (0: any), or undefined when it is taken. */
function bindable(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen(port, "127.0.0.1", () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}

/** `count` distinct loopback ports free now, outside the ephemeral range when it is known and leaves room. */
export async function freeLoopbackPorts(count: number, range?: [number, number]): Promise<number[]> {
  const [low] = range ?? (await ephemeralRange()) ?? [0];
  const below = low - LOWEST;
  const ports: number[] = [];
  for (let tries = 0; ports.length < count; tries++) {
    // no room below the range, or TRIES of its ports taken already: whatever the OS gives
    const random = below > count && tries < TRIES;
    const port = await bindable(random ? LOWEST + Math.floor(Math.random() * below) : 0);
    if (port !== undefined && !ports.includes(port)) ports.push(port);
  }
  return ports;
}
