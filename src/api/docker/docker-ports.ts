import { readFileSync } from 'node:fs';
import { arch, availableParallelism, machine, platform, release, totalmem } from 'node:os';

/** An image the node's engine holds, as `GET /distribution/{name}/json` describes it. */
export interface LocalImage {
  /** The engine's image id, `sha256:<64 hex>` (the digest of the image's config). */
  readonly id: string;
  /** `linux`. */
  readonly os: string;
  /** The image's architecture as the engine says it: `amd64`, `arm64`… */
  readonly architecture: string;
  /** The image's size in bytes, when known. */
  readonly size?: number;
}

/**
 * The node's images, looked up locally (src/drivers/docker implements it over the Docker engine; app/
 * passes it): the face answers the CLI's distribution inspect from here so it never reaches a registry.
 */
export interface LocalImages {
  /**
   * @param ref an image reference as the CLI sends it (`nginx:latest`, `library/nginx:latest`,
   *   `registry:5000/team/app:1`)
   * @returns the image, or undefined when the engine has no image by that reference
   */
  inspect(ref: string): Promise<LocalImage | undefined>;
  /** How many images the node's engine has (`docker info`'s `Images`); absent: 0 is reported. */
  count?(): Promise<number>;
}

/** The machine /version, /info and /nodes describe (the engine reports its host's, as dockerd does). */
export interface HostFacts {
  /** Go's GOOS: `linux`. */
  readonly os: string;
  /** Go's GOARCH (`amd64`, `arm64`), for /version's `Arch`. */
  readonly goArch: string;
  /** uname's machine (`x86_64`, `aarch64`), for /info's `Architecture` and a node's Platform, as dockerd reports them. */
  readonly machine: string;
  /** uname's release, e.g. `6.1.0-18-amd64`. */
  readonly kernelVersion: string;
  /** /etc/os-release's PRETTY_NAME (`Debian GNU/Linux 12 (bookworm)`), else the platform. */
  readonly operatingSystem: string;
  /** CPUs the server may use. */
  readonly ncpu: number;
  /** Memory of the machine, bytes. */
  readonly memTotal: number;
}

/** Node's names of architectures → Go's (`x64` → `amd64`), as Docker's API speaks them. */
const GO_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', ia32: '386', arm: 'arm', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** This machine's facts, read once (os module and /etc/os-release). */
export function currentHostFacts(): HostFacts {
  return {
    os: platform(),
    goArch: GO_ARCH[arch()] ?? arch(),
    machine: machine(),
    kernelVersion: release(),
    operatingSystem: prettyName() ?? platform(),
    ncpu: availableParallelism(),
    memTotal: totalmem(),
  };
}

function prettyName(): string | undefined {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] || undefined;
  } catch {
    return undefined;
  }
}
