// What the control plane's dashboard and `ambit dashboard` must agree on: where the socket is, the settings route on
// the control plane's API, and how often the proxies are scraped (the embedded window and the printed Prometheus
// config use the same interval, so both give the same rates).
import { join } from 'node:path';

/** `<dataDir>/dashboard.sock` (mode 0600): the dashboard's own socket, which `ambit dashboard` forwards a port to. */
export function dashboardSocketPath(dataDir: string): string {
  return join(dataDir, 'dashboard.sock');
}

/** GET/PUT on the control plane's API: the metrics source (`{"prometheus": URL | null}`). */
export const DASHBOARD_SETTINGS_PATH = '/ambit/v1/dashboard';

export const SCRAPE_INTERVAL_SECONDS = 5;
