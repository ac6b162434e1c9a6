// node-oidc-provider with one confidential client_credentials client, for comparing token endpoint throughput
// with Canary under the same load.
//
//   PORT=3000 CLIENT_ID=bench CLIENT_SECRET=... [AT_FORMAT=jwt|opaque] [WORKERS=1] node server.js
//
// AT_FORMAT=jwt (default) issues RS256-signed JWT access tokens (RFC 9068), like Canary; AT_FORMAT=opaque
// issues opaque tokens kept in the provider's in-memory store. WORKERS>1 forks that many processes with
// node:cluster (the primary hands out connections). Everything listens on 127.0.0.1 only.

import cluster from 'node:cluster';
import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 3000);
const clientId = process.env.CLIENT_ID || 'bench';
const clientSecret = process.env.CLIENT_SECRET || 'bench-secret-bench-secret-bench-secret';
const format = process.env.AT_FORMAT || 'jwt';
const workers = Number(process.env.WORKERS || 1);
const resource = `http://127.0.0.1:${port}`;

if (cluster.isPrimary && workers > 1) {
  // One key for all workers so every token verifies against the same JWKS.
  process.env.BENCH_JWK = JSON.stringify(rsaJwk());
  for (let i = 0; i < workers; i += 1) cluster.fork();
  cluster.on('exit', (worker, code) => {
    console.error(`worker ${worker.process.pid} exited with ${code}`);
  });
} else {
  start();
}

function rsaJwk() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'bench' };
}

function start() {
  const jwk = process.env.BENCH_JWK ? JSON.parse(process.env.BENCH_JWK) : rsaJwk();
  const provider = new Provider(resource, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'events:write',
    }],
    jwks: { keys: [jwk] },
    scopes: ['events:write'],
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async () => ({
          scope: 'events:write',
          audience: resource,
          accessTokenTTL: 900,
          accessTokenFormat: format,
          ...(format === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
        }),
      },
    },
    ttl: { ClientCredentials: 900 },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  provider.listen(port, '127.0.0.1', () => {
    console.log(`node-oidc-provider pid ${process.pid} listening on ${resource} (access tokens: ${format})`);
  });
}
