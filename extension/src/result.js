// The result tab: the same panel as in a page, for an image whose page
// cannot host it (browser pages, file: pages, tabs opened before the extension).
// The image URL comes in the query string: result.html?src=<url>.

import { PANEL_CSS, renderPanel } from './shared/panel-view.js';
import { runPanel } from './shared/panel-controller.js';
import { getSettings, onSettingsChanged } from './shared/settings.js';

const src = new URLSearchParams(location.search).get('src') ?? '';
let settings = await getSettings();

const sheet = new CSSStyleSheet();
sheet.replaceSync(PANEL_CSS);
document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];

const container = document.getElementById('panel');
document.getElementById('src').textContent = src.startsWith('data:')
  ? 'An image inlined in its page (data: URL)'
  : src;

if (!src) {
  container.textContent =
    'No image to check: open this tab from the context menu.';
} else {
  document.getElementById('photo').src = src;
  // this tab opens only from the context menu: the gesture that earns cookies
  const panel = runPanel({
    src,
    credentials: 'include',
    show: (state, actions) => renderPanel(container, state, actions),
    isCurrent: () => true,
    getSettings: () => settings,
    openOptions: () => chrome.runtime.openOptionsPage(),
  });
  onSettingsChanged(async () => {
    settings = await getSettings();
    panel.redraw();
  });
}
