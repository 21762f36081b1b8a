// Screenshots of every tab at desktop and phone widths, for looking at the page before and after a change (not a
// test: it asserts nothing). Usage: CORTEXLENS_SITE_DIR=build/site node tests/browser/screens.mjs OUT_DIR
import fs from 'node:fs';
import path from 'node:path';
import { launch, openPage, startServer } from './harness.mjs';

const out = path.resolve(process.argv[2] || 'build/screens');
fs.mkdirSync(out, { recursive: true });
const tabs = ['neuron', 'population', 'card', 'evidence', 'inside', 'own'];
const { server, origin } = await startServer();
const browser = await launch();
for (const [name, width, height, mobile] of [
  ['desktop', 1280, 900, false],
  ['phone', 390, 844, true],
]) {
  const { context, page } = await openPage(browser, origin, { width, height, mobile });
  await page.waitForFunction(() => window.cortexLens.state.predictions > 0, null, { polling: 50, timeout: 60000 });
  for (const tab of tabs) {
    await page.click(`#tab-${tab}`);
    if (tab === 'population') {
      await page.waitForFunction(() => window.cortexLens.timings.population > 0, null, {
        polling: 100,
        timeout: 240000,
      });
    }
    await page.waitForTimeout(tab === 'card' || tab === 'inside' ? 1500 : 500);
    await page.screenshot({ path: path.join(out, `${name}-${tab}.png`), fullPage: true });
  }
  await context.close();
}
await browser.close();
server.close();
console.log(`screenshots in ${out}`);
