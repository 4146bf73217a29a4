// placeholder so the component has a source until its first file lands
