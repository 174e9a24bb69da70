// Types for ports.mjs.

/** A free TCP port on `host` below the kernel's ephemeral range (see ports.mjs). */
export function freePort(host?: string): Promise<number>;
