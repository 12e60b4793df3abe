/**
 * certs — the shipped test PKI of `hourglass/testing`, as PEM string constants.
 *
 * Owns: one test CA, the leaves the fault server can present (`localhost`, a name
 * mismatch, an expired one), a client certificate for mTLS, and
 * {@link writeCertsDir}, which lays them out as the `<dir>/<host[:port]>/` tree that
 * `certsDir()` reads (SPEC §6).
 *
 * Invariants: every leaf is signed by {@link CA_CERT}; validity windows are fixed
 * (2020-01-01 … 2120-01-01, the expired leaf 2000-01-01 … 2001-01-01) so the
 * certificates never depend on the clock of the machine that generated them. Keys
 * are EC P-256 in PKCS#8. These keys are public: never trust this CA outside tests.
 *
 * Regenerate (OpenSSL 3.0): `openssl req -new` for each key, then `openssl ca -batch
 * -startdate … -enddate … -extfile …` (with `-selfsign` for the CA); server leaves
 * carry `subjectAltName` and `extendedKeyUsage=serverAuth`, the client leaf
 * `extendedKeyUsage=clientAuth`.
 */

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** PEM of the test CA (CN=hourglass test CA), valid 2020-01-01 to 2120-01-01. */
export const CA_CERT = `-----BEGIN CERTIFICATE-----
MIIBbDCCARKgAwIBAgICEAAwCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRaG91cmds
YXNzIHRlc3QgQ0EwIBcNMjAwMTAxMDAwMDAwWhgPMjEyMDAxMDEwMDAwMDBaMBwx
GjAYBgNVBAMMEWhvdXJnbGFzcyB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEjVWjuPM13I6dr1uOfWxj82K/4aotBD19t03jTvl6nSNeQKoF5ElWgTeY
9JIjpHgRveMsUUStbTsp7zFmXMdAyaNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNV
HQ8BAf8EBAMCAQYwHQYDVR0OBBYEFFJ+dmnmvkoCoAPXMMaafpV81sodMAoGCCqG
SM49BAMCA0gAMEUCIQCvZe4qyPcU3uIVRDopsgl3rEzhQgjayahWCZAUcO5CSwIg
Z8kAsQnaPL79N+ctAXdwoULxbTEepk/IA2mlM+NZ8UA=
-----END CERTIFICATE-----
`;

/** Server leaf for localhost, 127.0.0.1 and ::1 (SAN), signed by the CA, valid 2020 to 2120. */
export const SERVER_CERT = `-----BEGIN CERTIFICATE-----
MIIBwzCCAWqgAwIBAgICEAEwCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRaG91cmds
YXNzIHRlc3QgQ0EwIBcNMjAwMTAxMDAwMDAwWhgPMjEyMDAxMDEwMDAwMDBaMBQx
EjAQBgNVBAMMCWxvY2FsaG9zdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABMB6
XZekIz4EUaMcZEiQK7P4qXJTzLsChG7YassMgy5UbCDTqRH83Ex8R2jdORbaqbez
SUfJvECkGZ9cXzlLMM+jgaEwgZ4wCQYDVR0TBAIwADAOBgNVHQ8BAf8EBAMCBaAw
EwYDVR0lBAwwCgYIKwYBBQUHAwEwLAYDVR0RBCUwI4IJbG9jYWxob3N0hwR/AAAB
hxAAAAAAAAAAAAAAAAAAAAABMB0GA1UdDgQWBBRicf2DzfiiEeyc4TL+w6FztqKv
EjAfBgNVHSMEGDAWgBRSfnZp5r5KAqAD1zDGmn6VfNbKHTAKBggqhkjOPQQDAgNH
ADBEAh9EKahJmZyKrvdtvyBnc4TU9shT9n6gMtbx/UpYPnUWAiEAuomTvZmxLwRn
LfRWDD861hzUUs9GqjVnfZp/UMtuYC8=
-----END CERTIFICATE-----
`;

/** Private key (PKCS#8, P-256) of {@link SERVER_CERT}. */
export const SERVER_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjx48axRHs/wAqQuX
ztaYy74fXBgu8f1L3qlwq4F+3c6hRANCAATAel2XpCM+BFGjHGRIkCuz+KlyU8y7
AoRu2GrLDIMuVGwg06kR/NxMfEdo3TkW2qm3s0lHybxApBmfXF85SzDP
-----END PRIVATE KEY-----
`;

/** Leaf for wrong.example only (SAN): a name-mismatch certificate for loopback tests. */
export const WRONG_NAME_CERT = `-----BEGIN CERTIFICATE-----
MIIBtDCCAVqgAwIBAgICEAIwCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRaG91cmds
YXNzIHRlc3QgQ0EwIBcNMjAwMTAxMDAwMDAwWhgPMjEyMDAxMDEwMDAwMDBaMBgx
FjAUBgNVBAMMDXdyb25nLmV4YW1wbGUwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AAROaKr6d5811b020R5EgH9TmluuooQvnXiY8XMlyGhJ1448uyzTKdAz95AeGzTz
z+TUZjKmQd6oDg2UEe/GOideo4GNMIGKMAkGA1UdEwQCMAAwDgYDVR0PAQH/BAQD
AgWgMBMGA1UdJQQMMAoGCCsGAQUFBwMBMBgGA1UdEQQRMA+CDXdyb25nLmV4YW1w
bGUwHQYDVR0OBBYEFNVJPSPt/9I+uMqcrUxrd7rfN9WwMB8GA1UdIwQYMBaAFFJ+
dmnmvkoCoAPXMMaafpV81sodMAoGCCqGSM49BAMCA0gAMEUCIQD2GFzP+OlBEVnB
LSLUY2TBG+upGkzyhrAowot3ilYrPwIgZgTEP9whYBKxR6BhZRaKgv4ieNz2ed6o
ckfOyTl8Dhw=
-----END CERTIFICATE-----
`;

/** Private key of {@link WRONG_NAME_CERT}. */
export const WRONG_NAME_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgNTxXd+ytLzE4rDY6
rW3MZPFIAU65F3Lgx4kD0jyJEEqhRANCAAROaKr6d5811b020R5EgH9TmluuooQv
nXiY8XMlyGhJ1448uyzTKdAz95AeGzTzz+TUZjKmQd6oDg2UEe/GOide
-----END PRIVATE KEY-----
`;

/** Leaf for localhost/127.0.0.1/::1 that EXPIRED on 2001-01-01 (valid 2000-01-01 to 2001-01-01). */
export const EXPIRED_CERT = `-----BEGIN CERTIFICATE-----
MIIBwjCCAWigAwIBAgICEAQwCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRaG91cmds
YXNzIHRlc3QgQ0EwHhcNMDAwMTAxMDAwMDAwWhcNMDEwMTAxMDAwMDAwWjAUMRIw
EAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQbRe1u
ODaNBgZa+ESOmq1BaNg/FI7QRX+BNDFkd8C52wYHycC6QPRcPM5MZACygs2Q6V0T
6J0OL5E962dvxaG9o4GhMIGeMAkGA1UdEwQCMAAwDgYDVR0PAQH/BAQDAgWgMBMG
A1UdJQQMMAoGCCsGAQUFBwMBMCwGA1UdEQQlMCOCCWxvY2FsaG9zdIcEfwAAAYcQ
AAAAAAAAAAAAAAAAAAAAATAdBgNVHQ4EFgQUGpxHrHRFw+u9URy7glCavAMTS4ww
HwYDVR0jBBgwFoAUUn52aea+SgKgA9cwxpp+lXzWyh0wCgYIKoZIzj0EAwIDSAAw
RQIhANypQokmApLIjwI1/TGE+SIeHzMnX5iu/C7J5hFF6dF+AiBMwF8pW52GNRwb
PcnFWPioaCJaZgqjJZW6O9cuGbY11g==
-----END CERTIFICATE-----
`;

/** Private key of {@link EXPIRED_CERT}. */
export const EXPIRED_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQghlE/fYWZHBg9083n
CgGnzdaz88l8/PAMY73GUKDms2ehRANCAAQbRe1uODaNBgZa+ESOmq1BaNg/FI7Q
RX+BNDFkd8C52wYHycC6QPRcPM5MZACygs2Q6V0T6J0OL5E962dvxaG9
-----END PRIVATE KEY-----
`;

/** Client certificate (CN=hourglass test client, extendedKeyUsage clientAuth) for mTLS tests. */
export const CLIENT_CERT = `-----BEGIN CERTIFICATE-----
MIIBoTCCAUagAwIBAgICEAMwCgYIKoZIzj0EAwIwHDEaMBgGA1UEAwwRaG91cmds
YXNzIHRlc3QgQ0EwIBcNMjAwMTAxMDAwMDAwWhgPMjEyMDAxMDEwMDAwMDBaMCAx
HjAcBgNVBAMMFWhvdXJnbGFzcyB0ZXN0IGNsaWVudDBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABFqPfa73/hRkXxqy4TIYg59tBRSUTA1az+zyA21967ZRR9Cq9Uyz
2HJK7ap04mO2yiq7c+l8muMOiLteRwan1f2jcjBwMAkGA1UdEwQCMAAwDgYDVR0P
AQH/BAQDAgWgMBMGA1UdJQQMMAoGCCsGAQUFBwMCMB0GA1UdDgQWBBROaeKNB54L
MSlEoeuLW4xTKHM5EjAfBgNVHSMEGDAWgBRSfnZp5r5KAqAD1zDGmn6VfNbKHTAK
BggqhkjOPQQDAgNJADBGAiEAoEPkfdUkVa9WPP4vKkPmj85R1hslbaZJovGoL90J
9LECIQChUQTxXNeltAJbZWBfqZRO8zZEZ2ZjryK9Zpk4DW2wag==
-----END CERTIFICATE-----
`;

/** Private key of {@link CLIENT_CERT}. */
export const CLIENT_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg0eQCjAdta7UqE8dB
a+usNWcS7GkEF70m51brIb0f7T2hRANCAARaj32u9/4UZF8asuEyGIOfbQUUlEwN
Ws/s8gNtfeu2UUfQqvVMs9hySu2qdOJjtsoqu3PpfJrjDoi7XkcGp9X9
-----END PRIVATE KEY-----
`;

/** Which server certificate a TLS fault server presents. */
export type ServerCertName = 'localhost' | 'wrong-name' | 'expired';

/** Key pairs by {@link ServerCertName}. */
export const SERVER_CERTS: Readonly<Record<ServerCertName, { cert: string; key: string }>> = {
  localhost: { cert: SERVER_CERT, key: SERVER_KEY },
  'wrong-name': { cert: WRONG_NAME_CERT, key: WRONG_NAME_KEY },
  expired: { cert: EXPIRED_CERT, key: EXPIRED_KEY },
};

/**
 * Writes `<dir>/<hostPort>/{ca.crt, client.cert, client.key}` (the layout of SPEC §6
 * `certsDir`) with the shipped CA and client certificate. `hostPort` is `host` or
 * `host:port` exactly as the loader is expected to look it up. Returns the
 * per-host directory.
 */
export async function writeCertsDir(dir: string, hostPort: string): Promise<string> {
  const hostDir = join(dir, hostPort);
  await mkdir(hostDir, { recursive: true });
  await writeFile(join(hostDir, 'ca.crt'), CA_CERT);
  await writeFile(join(hostDir, 'client.cert'), CLIENT_CERT);
  await writeFile(join(hostDir, 'client.key'), CLIENT_KEY, { mode: 0o600 });
  return hostDir;
}
