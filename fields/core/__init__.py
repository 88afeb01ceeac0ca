"""The foundation every layer may use: exceptions, atomic files, the package version."""
