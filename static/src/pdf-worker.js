// The pdf.js worker, bundled like every script here so the student page loads it from our own
// origin (CSP worker-src 'self'); static/src/reader.js starts it as a classic worker.
import "pdfjs-dist/build/pdf.worker.mjs";
