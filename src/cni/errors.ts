// CNI error codes and the one place that maps failures to them (CNI SPEC 1.1 "Error" section).
// Pure: no node:* imports.
import { IpamExhaustedError, IpamInvalidArgumentError } from '../ipam/errors.js';

/** Well-known codes 0-99 from the SPEC; 100+ are Palisade's own. */
export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  LimitedConnectivity: 51,
  // Palisade-specific
  RangeExhausted: 100,
  CheckFailed: 101,
  DataplaneFailed: 102,
  Internal: 999,
} as const;

export type CniCodeValue = (typeof CniCode)[keyof typeof CniCode];

export class CniError extends Error {
  override readonly name = 'CniError';
  constructor(
    readonly code: number,
    msg: string,
    readonly details = '',
    options?: { cause?: unknown },
  ) {
    super(msg, options);
  }
}

export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export function errorToJson(err: CniError, cniVersion: string): CniErrorJson {
  const out: CniErrorJson = { cniVersion, code: err.code, msg: err.message };
  if (err.details) out.details = err.details;
  return out;
}

/** Anything thrown inside a handler that is not already a CniError becomes code 999 with its message. */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CniError(CniCode.Internal, 'internal error', message, { cause: err });
}

/**
 * IPAM failures as CNI errors: a full range is Palisade's 100, an owner the IPAM refuses (container ID or
 * interface name it cannot key on) is the SPEC's 4, anything else from the store is an I/O failure (5).
 */
export function ipamToCniError(err: unknown, action: string): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof IpamExhaustedError)
    return new CniError(CniCode.RangeExhausted, err.message, '', { cause: err });
  if (err instanceof IpamInvalidArgumentError) {
    return new CniError(CniCode.InvalidEnvironment, err.message, '', { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new CniError(CniCode.IoFailure, `failed to ${action}`, message, { cause: err });
}
