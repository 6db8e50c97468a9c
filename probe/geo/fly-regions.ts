/**
 * Fly.io regions: the code in `fly-request-id` and the city it stands for.
 * Region codes are IATA codes of a nearby airport, but the machines are in
 * the city (iad is Ashburn, ewr is Secaucus), so the city's coordinates are
 * kept here rather than the airport's. Source: Fly.io's public region list.
 */
export const flyRegions: Record<string, { city: string; lat: number; lon: number }> = {
  ams: { city: 'Amsterdam', lat: 52.374, lon: 4.89 },
  arn: { city: 'Stockholm', lat: 59.329, lon: 18.069 },
  atl: { city: 'Atlanta', lat: 33.749, lon: -84.388 },
  bog: { city: 'Bogotá', lat: 4.711, lon: -74.072 },
  bom: { city: 'Mumbai', lat: 19.076, lon: 72.878 },
  bos: { city: 'Boston', lat: 42.36, lon: -71.059 },
  cdg: { city: 'Paris', lat: 48.857, lon: 2.352 },
  den: { city: 'Denver', lat: 39.739, lon: -104.99 },
  dfw: { city: 'Dallas', lat: 32.777, lon: -96.797 },
  ewr: { city: 'Secaucus', lat: 40.79, lon: -74.057 },
  eze: { city: 'Ezeiza', lat: -34.815, lon: -58.535 },
  fra: { city: 'Frankfurt', lat: 50.11, lon: 8.682 },
  gdl: { city: 'Guadalajara', lat: 20.659, lon: -103.35 },
  gig: { city: 'Rio de Janeiro', lat: -22.907, lon: -43.173 },
  gru: { city: 'São Paulo', lat: -23.551, lon: -46.633 },
  hkg: { city: 'Hong Kong', lat: 22.32, lon: 114.169 },
  iad: { city: 'Ashburn', lat: 39.044, lon: -77.487 },
  jnb: { city: 'Johannesburg', lat: -26.204, lon: 28.047 },
  lax: { city: 'Los Angeles', lat: 34.052, lon: -118.244 },
  lhr: { city: 'London', lat: 51.507, lon: -0.128 },
  mad: { city: 'Madrid', lat: 40.417, lon: -3.704 },
  mia: { city: 'Miami', lat: 25.762, lon: -80.192 },
  nrt: { city: 'Tokyo', lat: 35.69, lon: 139.692 },
  ord: { city: 'Chicago', lat: 41.878, lon: -87.63 },
  otp: { city: 'Bucharest', lat: 44.427, lon: 26.103 },
  phx: { city: 'Phoenix', lat: 33.448, lon: -112.074 },
  qro: { city: 'Querétaro', lat: 20.589, lon: -100.39 },
  scl: { city: 'Santiago', lat: -33.449, lon: -70.669 },
  sea: { city: 'Seattle', lat: 47.606, lon: -122.332 },
  sin: { city: 'Singapore', lat: 1.352, lon: 103.82 },
  sjc: { city: 'San Jose', lat: 37.339, lon: -121.895 },
  syd: { city: 'Sydney', lat: -33.869, lon: 151.209 },
  waw: { city: 'Warsaw', lat: 52.23, lon: 21.012 },
  yul: { city: 'Montreal', lat: 45.502, lon: -73.567 },
  yyz: { city: 'Toronto', lat: 43.653, lon: -79.383 },
}
