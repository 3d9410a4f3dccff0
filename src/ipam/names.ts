// Validation of the identifiers the store turns into file names. Pure. Anything that reaches a path has passed
// here first, so "../x" or "a/b" can never name a file outside the store.
import { IpamInvalidArgumentError } from './errors.js';
import type { Owner } from './types.js';

/** The CNI SPEC's rule for CNI_CONTAINERID and for network names. It rules out "", ".", ".." and "/". */
export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Longer IDs would not fit in an index entry's file name (NAME_MAX 255 = id + "@" + ifname + "@" + ip). */
export const MAX_ID_LENGTH = 180;

/** The kernel's IFNAMSIZ is 16 including the terminating NUL. */
const MAX_IFNAME_LENGTH = 15;

export function checkNetworkName(name: string, field = 'network'): void {
  if (!ID_RE.test(name) || name.length > MAX_ID_LENGTH) {
    throw new IpamInvalidArgumentError(field, name, describeIdRule());
  }
}

export function checkContainerID(id: string, field = 'containerID'): void {
  if (!ID_RE.test(id) || id.length > MAX_ID_LENGTH) {
    throw new IpamInvalidArgumentError(field, id, describeIdRule());
  }
}

/** The kernel's rules for an interface name (dev_valid_name): 1-15 bytes, not "." or "..", no "/", ":" or space. */
export function checkIfname(ifname: string, field = 'ifname'): void {
  const bytes = new TextEncoder().encode(ifname).length;
  if (bytes === 0 || bytes > MAX_IFNAME_LENGTH) {
    throw new IpamInvalidArgumentError(field, ifname, `must be 1-${MAX_IFNAME_LENGTH} bytes long`);
  }
  if (ifname === '.' || ifname === '..' || /[/:\s\u0000-\u001f\u007f]/.test(ifname)) {
    throw new IpamInvalidArgumentError(field, ifname, 'is not a valid interface name');
  }
}

export function checkOwner(owner: Owner): void {
  checkContainerID(owner.containerID);
  checkIfname(owner.ifname);
}

export function isValidOwner(owner: Owner): boolean {
  try {
    checkOwner(owner);
    return true;
  } catch (err) {
    if (err instanceof IpamInvalidArgumentError) return false;
    throw err;
  }
}

export function sameOwner(a: Owner, b: Owner): boolean {
  return a.containerID === b.containerID && a.ifname === b.ifname;
}

/** A map key for an owner; NUL cannot occur in either part. */
export function ownerKey(owner: Owner): string {
  return `${owner.containerID}\u0000${owner.ifname}`;
}

function describeIdRule(): string {
  return `must match ${ID_RE.source} and be at most ${MAX_ID_LENGTH} characters`;
}
