// Verifies a Convene join token with LiveKit's own Node SDK and prints its claims as JSON.
// Usage: node verify_token.mjs <apiKey> <apiSecret> <token>   (exit 1 when verification fails)
import { TokenVerifier } from "livekit-server-sdk";

const [apiKey, apiSecret, token] = process.argv.slice(2);
try {
  const claims = await new TokenVerifier(apiKey, apiSecret).verify(token);
  process.stdout.write(JSON.stringify(claims));
} catch (error) {
  process.stderr.write(`verification failed: ${error.message}\n`);
  process.exit(1);
}
