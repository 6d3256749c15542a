// Runs functions of what the banner does later (later.js), loading it the first time one is needed:
// at once when it is there (so the dialog keeps in step with the choice being made), else once it has
// come. A failed load (offline, refused) is tried again at the next need.
let later = null;    // its functions, once loaded
let loading = null;  // while it loads
let load;            // loads it (cmp.js: from the platform, pinned by its SRI hash)

export const loadLaterWith = loader => { load = loader; };

export function withLater(fn) {
  if (later) return fn(later);
  loading = loading || load().then(functions => { later = functions; }, () => { loading = null; });
  return loading.then(() => later && fn(later));  // what fn returns (false when the file could not load)
}

// Its functions, for what only the dialog asks (so they are there).
export const loaded = () => later;
