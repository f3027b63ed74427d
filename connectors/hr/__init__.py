"""HR systems and directories reached by configuration: `rest_directory` (any REST API, with
named presets for the systems this market runs) and its pieces: authentication, paging and the
presets."""
