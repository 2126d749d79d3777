// Lists the catalog through the JSON API and shows how long each request took and
// whether the answer came from the database or the cache (the x-demo-source header).
const categories = ['all', 'books', 'games', 'garden', 'kitchen', 'music']
const nav = document.getElementById('categories')
const status = document.getElementById('status')
const list = document.getElementById('products')

async function show(category) {
  const url = category === 'all' ? '/products' : `/products?category=${encodeURIComponent(category)}`
  const started = performance.now()
  const response = await fetch(url)
  const body = await response.json()
  const ms = (performance.now() - started).toFixed(1)
  status.textContent = `${url}: ${body.count} products in ${ms} ms, from the ${response.headers.get('x-demo-source')}`
  list.replaceChildren(
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

for (const category of categories) {
  const button = document.createElement('button')
  button.textContent = category
  button.addEventListener('click', () => show(category))
  nav.append(button)
}
show('all')
