// The migrations and functions stay plain .sql files in src/ (reviewable as SQL); the build copies
// them beside the compiled module that reads them.
// usage: node scripts/copy-sql.js [outDir-of-src]  (default dist)
const fs = require('fs');
const path = require('path');
const out = process.argv[2] || path.join(__dirname, '..', 'dist');
for (const dir of ['migrations', 'functions']) {
  const from = path.join(__dirname, '..', 'src', 'capture', dir);
  const to = path.join(out, 'capture', dir);
  fs.mkdirSync(to, { recursive: true });
  for (const f of fs.readdirSync(from)) if (f.endsWith('.sql')) fs.copyFileSync(path.join(from, f), path.join(to, f));
}
