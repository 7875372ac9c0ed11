// Uses the API the way a program inside an instance would: BERTH_API_URL with BERTH_API_TOKEN. Each
// argument is `METHOD:PATH`; prints `METHOD PATH -> STATUS BODY` per request, then sleeps.
const url = process.env.BERTH_API_URL;
const token = process.env.BERTH_API_TOKEN;
console.log(`token ${token ? 'present' : 'missing'}`);
for (const arg of process.argv.slice(2)) {
  const [method, path] = arg.split(':');
  const res = await fetch(`${url}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  console.log(`${method} ${path} -> ${res.status} ${(await res.text()).replace(/\s+/g, ' ').slice(0, 300)}`);
}
setInterval(() => {}, 1 << 30);
