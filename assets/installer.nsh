; Included by electron-builder's NSIS installer (nsis.include in electron-builder.yml).
; Registers swarmcast:// links for the installing user (the installer is per-user), the same
; key the app writes itself at start (app.setAsDefaultProtocolClient), and removes it on
; uninstall. An update runs the old uninstaller first, then customInstall writes it again.

!macro customInstall
  WriteRegStr SHELL_CONTEXT "Software\Classes\swarmcast" "" "URL:Swarmcast"
  WriteRegStr SHELL_CONTEXT "Software\Classes\swarmcast" "URL Protocol" ""
  WriteRegStr SHELL_CONTEXT "Software\Classes\swarmcast\DefaultIcon" "" "$INSTDIR\${APP_EXECUTABLE_FILENAME},0"
  WriteRegStr SHELL_CONTEXT "Software\Classes\swarmcast\shell\open\command" "" '"$INSTDIR\${APP_EXECUTABLE_FILENAME}" "%1"'
!macroend

!macro customUnInstall
  DeleteRegKey SHELL_CONTEXT "Software\Classes\swarmcast"
!macroend
