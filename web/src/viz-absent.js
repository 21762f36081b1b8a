// Stand-in for web/viz/ (the feature-visualization panels of issue 5) when a build does not have them yet:
// build_site.sh points the 'cortexlens-viz' import here instead.
export const mountVizPanel = null;
export const vizHandlers = {};
