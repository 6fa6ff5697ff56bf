/**
 * Scraping the sidecars under STRICT mTLS with Istio's workload certificate (Istio's Prometheus
 * integration, "TLS settings"): Prometheus runs an Istio agent that writes its certificate to a
 * shared volume (OUTPUT_CERTS) and captures no traffic, and presents the certificate on every
 * scrape. The server sidecar terminates mTLS and sees Prometheus' principal and namespace.
 */
import { z } from 'zod';

/** Where the Prometheus pod mounts the Istio certificate files (Istio's docs use /etc/prom-certs). */
export const ISTIO_CERT_DIR = '/etc/prom-certs';

export const meshTlsSchema = z.union([
  z.boolean(),
  z.strictObject({ certDir: z.string().regex(/^\/\S*$/, 'must be an absolute path').optional() }),
]);

/** Props form: `true`, or the directory holding root-cert.pem, cert-chain.pem and key.pem. */
export type MeshTlsOption = boolean | { readonly certDir?: string };

export interface IstioTlsFiles { readonly caFile: string; readonly certFile: string; readonly keyFile: string }

/** The certificate files, or undefined for a plain HTTP scrape. */
export function istioTlsFiles(option: MeshTlsOption | undefined): IstioTlsFiles | undefined {
  if (!option) return undefined;
  const dir = (option === true ? undefined : option.certDir) ?? ISTIO_CERT_DIR;
  return { caFile: `${dir}/root-cert.pem`, certFile: `${dir}/cert-chain.pem`, keyFile: `${dir}/key.pem` };
}

/** Operator endpoint fields (ServiceMonitor / PodMonitor). */
export function operatorTls(files: IstioTlsFiles | undefined): { scheme?: 'https'; tlsConfig?: IstioTlsFiles & { insecureSkipVerify: true } } {
  // Istio certificates carry SPIFFE URIs, not the pod IPs Prometheus dials: the chain is checked against
  // the mesh root, the name is not (Istio's documented setting).
  return files ? { scheme: 'https', tlsConfig: { ...files, insecureSkipVerify: true } } : {};
}

/** Plain Prometheus config fields (scrape_configs). */
export function promConfigTls(files: IstioTlsFiles | undefined): { scheme?: 'https'; tls_config?: Record<string, string | boolean> } {
  return files ? { scheme: 'https', tls_config: { ca_file: files.caFile, cert_file: files.certFile, key_file: files.keyFile, insecure_skip_verify: true } } : {};
}
