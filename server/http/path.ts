/**
 * The pathname of a request URL, without ever throwing: `new URL` rejects request lines such as `//`,
 * and a throw inside an `upgrade` or `request` listener would end the process. Such a URL keeps its
 * raw path (it then matches no route).
 */
export function pathnameOf(url: string | undefined): string {
  const raw = url ?? "/";
  try {
    return new URL(raw, "http://relay").pathname;
  } catch {
    const query = raw.indexOf("?");
    return query >= 0 ? raw.slice(0, query) : raw;
  }
}
