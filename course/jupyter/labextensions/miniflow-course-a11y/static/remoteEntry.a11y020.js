/*
 * miniflow-course-a11y: a prebuilt (federated) JupyterLab 4 extension written
 * by hand, without node or webpack. It speaks the container protocol that
 * JupyterLab's bootstrap uses for every prebuilt extension:
 *   window._JUPYTERLAB[name] = {init(shareScope), get(module)}
 * where get('./extension') resolves to a factory returning a module whose
 * default export is the plugin. The plugin requires nothing, so the container
 * shares no modules.
 *
 * What it mends, at run time, in JupyterLab's own page (axe-core's findings on
 * a notebook; the course's widgets need none of this):
 *  - aria-input-field-name: each cell editor (.cm-content, role textbox) gets
 *    an aria-label such as "Code cell 2 source";
 *  - button-name: a markdown heading's collapse button gets an aria-label;
 *  - aria-required-children: the notebook's role="feed" may only hold
 *    articles, so each cell (a direct child without a role) becomes one;
 *  - aria-allowed-attr: aria-pressed="false" is not allowed on the toolbar's
 *    <jp-button> hosts (they have no role), so it is removed (a pressed
 *    toggle's aria-pressed="true" is left alone: it carries state);
 *  - image-alt: JupyterLab draws a figure output as an <img> without alt. It
 *    gets the text alternative the course's feedback pages give the same figure
 *    (autograder/publish/alt_text.py): the titles the cell's code sets
 *    (title="...", set_title("..."), suptitle("...")), else "A figure this cell
 *    drew". The notebook's text around each figure describes it at length.
 */
(function () {
  'use strict';

  var NAME = 'miniflow-course-a11y';
  var OWN = 'data-mf-a11y'; // marks the labels this extension set (and may update)

  function cellKind(cell) {
    if (!cell) return 'Cell';
    if (cell.classList.contains('jp-CodeCell')) return 'Code cell';
    if (cell.classList.contains('jp-MarkdownCell')) return 'Markdown cell';
    if (cell.classList.contains('jp-RawCell')) return 'Raw cell';
    return 'Cell';
  }

  function cellNumber(cell) {
    if (!cell) return '';
    var index = parseInt(cell.dataset.windowedListIndex, 10);
    if (isNaN(index) && cell.parentElement) {
      index = Array.prototype.indexOf.call(cell.parentElement.children, cell);
    }
    return isNaN(index) || index < 0 ? '' : ' ' + (index + 1);
  }

  // the same rule as autograder/publish/alt_text.py's _TITLE
  var TITLE = /\b(?:title|set_title|suptitle)\s*[=(]\s*f?(["'])(.+?)(?<!\\)\1/g;

  function cellSource(cell) {
    if (!cell) return '';
    var lines = cell.querySelectorAll('.jp-InputArea .cm-content .cm-line');
    var text = [];
    for (var i = 0; i < lines.length; i++) text.push(lines[i].textContent);
    return text.join('\n');
  }

  function figureAlt(cell) {
    var titles = [];
    var source = cellSource(cell);
    var match;
    TITLE.lastIndex = 0;
    while ((match = TITLE.exec(source)) !== null) titles.push(match[2]);
    return titles.length ? 'Figure: ' + titles.join('; ') : 'A figure this cell drew';
  }

  function setLabel(element, label) {
    var own = element.hasAttribute(OWN);
    if (!own && element.getAttribute('aria-label')) return; // JupyterLab named it
    if (!own && element.getAttribute('aria-labelledby')) return;
    if (element.getAttribute('aria-label') !== label) {
      element.setAttribute('aria-label', label);
    }
    if (!own) element.setAttribute(OWN, '');
  }

  function mend(root) {
    var i, nodes;
    // (a) cell editors: a name for each textbox
    nodes = root.querySelectorAll('.cm-content[role="textbox"]');
    for (i = 0; i < nodes.length; i++) {
      var cell = nodes[i].closest('.jp-Cell');
      if (cell) {
        setLabel(nodes[i], cellKind(cell) + cellNumber(cell) + ' source');
      } else {
        setLabel(nodes[i], 'Editor');
      }
    }
    // (b) a markdown heading's collapse button
    nodes = root.querySelectorAll('button.jp-collapseHeadingButton');
    for (i = 0; i < nodes.length; i++) {
      setLabel(nodes[i], 'Collapse or expand section');
    }
    // (c) a feed holds articles
    nodes = root.querySelectorAll('[role="feed"]');
    for (i = 0; i < nodes.length; i++) {
      var children = nodes[i].children;
      for (var j = 0; j < children.length; j++) {
        if (!children[j].hasAttribute('role')) {
          children[j].setAttribute('role', 'article');
        }
      }
    }
    // (d) aria-pressed="false" on a <jp-button> host (no role: not allowed)
    nodes = root.querySelectorAll('jp-button[aria-pressed="false"]:not([role])');
    for (i = 0; i < nodes.length; i++) {
      nodes[i].removeAttribute('aria-pressed');
    }
    // (e) a figure output: a text alternative (set once: a new output is a new <img>)
    nodes = root.querySelectorAll('.jp-OutputArea img:not([alt])');
    for (i = 0; i < nodes.length; i++) {
      nodes[i].setAttribute('alt', figureAlt(nodes[i].closest('.jp-Cell')));
      nodes[i].setAttribute(OWN, '');
    }
  }

  var plugin = {
    id: NAME + ':plugin',
    description: 'Accessible names and roles JupyterLab leaves out (axe-core findings).',
    autoStart: true,
    activate: function () {
      var scheduled = false;
      function run() {
        scheduled = false;
        mend(document.body);
      }
      var observer = new MutationObserver(function () {
        // one pass per batch of changes, after JupyterLab's own work
        if (!scheduled) {
          scheduled = true;
          Promise.resolve().then(run);
        }
      });
      observer.observe(document.body, {
        childList: true,
        subtree: true,
        attributes: true,
        attributeFilter: ['aria-pressed', 'role', 'aria-label']
      });
      run();
    }
  };

  var module = { __esModule: true, default: plugin };

  window._JUPYTERLAB = window._JUPYTERLAB || {};
  window._JUPYTERLAB[NAME] = {
    init: function () {
      // nothing shared: the plugin requires no other module
      return Promise.resolve();
    },
    get: function (request) {
      if (request !== './extension') {
        return Promise.reject(new Error(NAME + ' has no module ' + request));
      }
      return Promise.resolve(function () {
        return module;
      });
    }
  };
})();
