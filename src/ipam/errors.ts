// Typed IPAM errors. Each names the value and the field it came from; the CNI layer maps them to protocol codes
// (src/cni/errors.ts), nothing here knows those codes.

export class IpamError extends Error {
  override readonly name: string = 'IpamError';
}

/** Every candidate address of a range set is reserved (or the set has none). `ranges` names them. */
export class IpamExhaustedError extends IpamError {
  override readonly name = 'IpamExhaustedError';
  constructor(
    /** Where the set came from in the config, e.g. "ipam.ranges[1]". */
    readonly rangeSet: string,
    /** The set's ranges as text, e.g. "10.244.1.0/24" or "10.244.1.0/24 range 10.244.1.10-10.244.1.20". */
    readonly ranges: readonly string[],
  ) {
    super(`no free address in ${rangeSet}: ${ranges.join(', ')} ${ranges.length === 1 ? 'is' : 'are'} full`);
  }
}

/** A container ID, interface name or network name that cannot be used (it would also be unsafe in a path). */
export class IpamInvalidArgumentError extends IpamError {
  override readonly name = 'IpamInvalidArgumentError';
  constructor(
    readonly field: string,
    readonly value: string,
    reason: string,
  ) {
    super(`${field}: ${JSON.stringify(value)} ${reason}`);
  }
}

/** A file-system operation on the store failed for a reason other than the ones the protocol expects. */
export class IpamStoreError extends IpamError {
  override readonly name = 'IpamStoreError';
  constructor(
    readonly operation: string,
    readonly path: string,
    options: { cause: unknown },
  ) {
    const why = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`IPAM store: ${operation} ${path} failed: ${why}`, options);
  }
}
