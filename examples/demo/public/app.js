// The demo page: live hit ratios (polled every second) and the catalog, read through the JSON API.
const $ = (id) => document.getElementById(id)

/** "87 %" of served-from-cache over all lookups, or "–" before the first one. */
function ratio(served, total) {
  return total === 0 ? '–' : `${Math.round((100 * served) / total)} %`
}

async function refreshRatios() {
  const [data, route] = await Promise.all(
    ['/admin/cache-stats', '/admin/route-cache-stats'].map((url) => fetch(url).then((r) => r.json())),
  )
  // app.cache.stats(): hits and stale values were served from the cache; misses ran the query;
  // coalesced callers waited for a query another request had started.
  const dataServed = data.hits + data.stale
  $('data-ratio').textContent = ratio(dataServed, dataServed + data.misses + data.coalesced)
  $('data-counts').textContent =
    `hits ${data.hits}, stale ${data.stale}, misses ${data.misses}, coalesced ${data.coalesced}`
  // Route-cache outcomes; a bypass (a request the cache may not answer) is no lookup.
  const routeServed = route.hit + route.stale + route['stale-if-error'] + route['not-modified']
  const routeTotal = routeServed + route.miss + route.collapsed
  $('route-ratio').textContent = ratio(routeServed, routeTotal)
  $('route-counts').textContent = Object.entries(route)
    .map(([outcome, count]) => `${outcome} ${count}`)
    .join(', ')
}

async function showCategory(category) {
  const url = category === 'all' ? '/products' : `/products?category=${encodeURIComponent(category)}`
  const started = performance.now()
  const response = await fetch(url)
  const body = await response.json()
  const ms = (performance.now() - started).toFixed(1)
  $('status').textContent =
    `${url}: ${body.count} products in ${ms} ms (Cache-Status: ${response.headers.get('cache-status')})`
  $('products').replaceChildren(
    ...body.products.map((p) => {
      const item = document.createElement('li')
      const name = document.createElement('a')
      name.href = `/products/${p.id}`
      name.textContent = p.name
      const price = document.createElement('span')
      price.textContent = `$${(p.priceCents / 100).toFixed(2)}`
      item.append(name, price)
      return item
    }),
  )
}

for (const category of ['all', 'books', 'games', 'garden', 'kitchen', 'music']) {
  const button = document.createElement('button')
  button.type = 'button'
  button.textContent = category
  button.addEventListener('click', () => showCategory(category))
  $('categories').append(button)
}
$('invalidate').addEventListener('click', async () => {
  await fetch('/admin/invalidate', { method: 'POST' })
  refreshRatios()
})

showCategory('all')
refreshRatios()
setInterval(refreshRatios, 1000)
