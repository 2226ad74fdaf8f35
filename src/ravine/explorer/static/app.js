/* The page's entry point (index.html loads it as a module): the explorer is the ES modules in
 * js/, started by js/main.js. No build step, no network beyond this server. */
import "./js/main.js";
