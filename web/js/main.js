// Entry point (loaded as an ES module by index.html).
import { App } from './app.js';

new App(document.getElementById('app')).boot();
