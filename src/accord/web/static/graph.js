// The object page's relationship graph: the object and its readable neighbours; a click on a node adds its own.
"use strict";
(function () {
  const box = document.getElementById("graph");
  if (!box || typeof window.cytoscape !== "function") { return; }
  const note = document.getElementById("graph-note");
  const colours = {
    indicator: "#2f6fb0", malware: "#b03a2e", "threat-actor": "#7d3c98", "intrusion-set": "#7d3c98",
    campaign: "#a04000", "attack-pattern": "#117864", report: "#5d6d7e", vulnerability: "#b9770e",
  };
  const cy = window.cytoscape({
    container: box,
    style: [
      { selector: "node", style: {
        label: "data(label)", "font-size": 10, "text-wrap": "ellipsis", "text-max-width": 110,
        "background-color": (n) => colours[n.data("type")] || "#808b96", color: "#1d2733",
        "text-valign": "bottom", "text-margin-y": 4, width: 22, height: 22 } },
      { selector: "node.root", style: { "border-width": 3, "border-color": "#f1c40f", width: 30, height: 30 } },
      { selector: "edge", style: {
        label: "data(label)", "font-size": 8, "curve-style": "bezier", "target-arrow-shape": "triangle",
        width: 1.5, "line-color": "#aab7c4", "target-arrow-color": "#aab7c4", color: "#4b5a69" } },
    ],
  });
  const expanded = new Set();

  async function expand(id) {
    if (expanded.has(id)) { return; }
    expanded.add(id);
    const response = await fetch("/objects/" + encodeURIComponent(id) + "/graph.json", {
      credentials: "same-origin", headers: { accept: "application/json" },
    });
    if (!response.ok) { return; }
    const data = await response.json();
    const fresh = [];
    for (const node of data.nodes) {
      if (cy.getElementById(node.data.id).empty()) { fresh.push({ group: "nodes", data: node.data }); }
    }
    for (const edge of data.edges) {
      if (cy.getElementById(edge.data.id).empty()) { fresh.push({ group: "edges", data: edge.data }); }
    }
    cy.add(fresh);
    cy.getElementById(box.dataset.root).addClass("root");
    const root = box.dataset.root;
    const busy = cy.edges().length > 12;  // many edges: labels would overlap, and a ring reads better
    cy.edges().style("label", busy ? "" : (e) => e.data("label"));
    const layout = busy
      ? { name: "concentric", concentric: (n) => (n.id() === root ? 3 : (n.edgesWith(cy.getElementById(root)).length ? 2 : 1)),
          levelWidth: () => 1, minNodeSpacing: 12, animate: false, fit: true, padding: 20 }
      : { name: "cose", animate: false, fit: true, padding: 20 };
    cy.layout(layout).run();
    box.dataset.nodes = String(cy.nodes().length);
    box.dataset.edges = String(cy.edges().length);
    if (data.more > 0 && note) { note.textContent = data.more + " more relationships are not drawn."; }
  }

  cy.on("tap", "node", (event) => { expand(event.target.id()); });
  cy.on("dbltap", "node", (event) => {
    window.location.assign("/objects/" + encodeURIComponent(event.target.id()));
  });
  // Where a node is drawn, relative to the box (for tests that click it).
  window.accordGraph = {
    positionOf: (id) => { const p = cy.getElementById(id).renderedPosition(); return [p.x, p.y]; },
  };
  expand(box.dataset.root);
})();
