// Signs a webhook body (read from stdin) the way a LiveKit server does, with LiveKit's own Node
// SDK: an AccessToken whose sha256 claim is base64(sha256(body)), valid 5 minutes.
// Usage: node sign_webhook.mjs <apiKey> <apiSecret> < body   (prints the Authorization value)
import { createHash } from "node:crypto";
import { AccessToken } from "livekit-server-sdk";

const [apiKey, apiSecret] = process.argv.slice(2);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const body = Buffer.concat(chunks);
const token = new AccessToken(apiKey, apiSecret, { ttl: "5m" });
token.sha256 = createHash("sha256").update(body).digest("base64");
process.stdout.write(await token.toJwt());
