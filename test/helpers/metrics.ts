import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format";

/** One node's `/metrics`, parsed by a Prometheus text-format parser (not by the relay's own code). */
export class Scrape {
  constructor(
    readonly families: ParsedFamily[],
    /** The same text with histograms read as their plain `_bucket`, `_sum`, `_count` series. */
    private readonly flat: ParsedFamily[],
  ) {}

  /**
   * The parser keeps a histogram's labels only when it has none but `le`: labelled histograms are read
   * a second time without their TYPE line, as the plain series they are made of.
   */
  static parse(text: string): Scrape {
    return new Scrape(parsePrometheusTextFormat(text), parsePrometheusTextFormat(text.replace(/^# TYPE \S+ histogram\n/gm, "")));
  }

  has(name: string): boolean {
    return this.families.some((f) => f.name === name);
  }

  /** The sum of a counter's or gauge's samples whose labels include `labels`. */
  sum(name: string, labels: Record<string, string> = {}): number {
    const family = this.families.find((f) => f.name === name);
    if (!family) return 0;
    return family.metrics
      .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
      .reduce((total, m) => total + Number(m.value ?? m.count ?? 0), 0);
  }

  /** A histogram's observation count over the series whose labels include `labels`. */
  count(name: string, labels: Record<string, string> = {}): number {
    const family = this.flat.find((f) => f.name === `${name}_count`);
    if (!family) return 0;
    return family.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)).reduce((total, m) => total + Number(m.value ?? 0), 0);
  }
}

/** GETs `url` (a node's `/metrics`) with the bearer token, if any, and parses it. */
export async function scrape(url: string, token?: string): Promise<Scrape> {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return Scrape.parse(await res.text());
}
