// The plain data IPAM hands to the plugin and keeps in its store. Pure types.

/** The CNI SPEC's key for an attachment within one network: (CNI_CONTAINERID, CNI_IFNAME). */
export interface Owner {
  readonly containerID: string;
  readonly ifname: string;
}

/** One reserved address, as the plugin uses it. */
export interface Allocation {
  /** Bare address, canonical text ("10.244.1.7", "fd00:10:244:1::7"). */
  readonly ip: string;
  readonly family: 4 | 6;
  /** Prefix length of the subnet the address came from. */
  readonly prefix: number;
  /** The subnet as CIDR text. */
  readonly subnet: string;
  readonly gateway?: string;
  readonly owner: Owner;
  readonly network: string;
}

/** One reservation as the store keeps it: exactly the JSON of a record file. */
export interface AllocationRecord {
  readonly network: string;
  readonly containerID: string;
  readonly ifname: string;
  readonly ip: string;
  readonly subnet: string;
  readonly gateway?: string;
  /** ISO 8601. */
  readonly allocatedAt: string;
}
