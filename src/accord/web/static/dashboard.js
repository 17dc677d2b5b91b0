// The dashboard's charts, drawn from the JSON the page carries (data, never code).
"use strict";
(function () {
  const source = document.getElementById("chart-data");
  if (!source || typeof window.Chart !== "function") { return; }
  const data = JSON.parse(source.textContent);
  const palette = ["#1f5f99", "#b03a2e", "#117864", "#7d3c98", "#a04000", "#2e4053", "#b9770e", "#5d6d7e", "#909497"];
  window.Chart.defaults.animation = false;
  window.Chart.defaults.font.family = "system-ui, sans-serif";
  const received = document.getElementById("chart-received");
  if (received) {
    new window.Chart(received, {
      type: "bar",
      data: {
        labels: data.days,
        datasets: data.received.map((s, i) => ({ label: s.label, data: s.data, backgroundColor: palette[i % palette.length] })),
      },
      options: { responsive: true, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    });
  }
  const sightings = document.getElementById("chart-sightings");
  if (sightings) {
    new window.Chart(sightings, {
      type: "line",
      data: { labels: data.days, datasets: [{ label: "sightings", data: data.sightings, borderColor: "#b03a2e", backgroundColor: "#b03a2e" }] },
      options: { responsive: true, scales: { y: { beginAtZero: true } } },
    });
  }
})();
