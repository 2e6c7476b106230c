// The migrations stay plain .sql files in src/ (reviewable as SQL); the build copies them beside
// the compiled module that reads them.
const fs = require('fs');
const path = require('path');
const from = path.join(__dirname, '..', 'src', 'capture', 'migrations');
// usage: node scripts/copy-sql.js [outDir-of-src]  (default dist)
const to = path.join(process.argv[2] || path.join(__dirname, '..', 'dist'), 'capture', 'migrations');
fs.mkdirSync(to, { recursive: true });
for (const f of fs.readdirSync(from)) if (f.endsWith('.sql')) fs.copyFileSync(path.join(from, f), path.join(to, f));
