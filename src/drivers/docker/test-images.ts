/**
 * The images tests run, as scripts/build-images.sh builds them (offline, from Debian's packages):
 * `busybox:local`, `node:local`, `nginx:latest`. BERTH_TEST_IMAGE_<NAME> overrides one (e.g. an
 * image of your own while the script has not run).
 */
export function testImage(name: 'busybox' | 'node' | 'nginx'): string {
  const override = process.env[`BERTH_TEST_IMAGE_${name.toUpperCase()}`];
  if (override) return override;
  return name === 'nginx' ? 'nginx:latest' : `${name}:local`;
}
